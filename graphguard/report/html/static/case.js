// graphguard pages: sortable tables; on case files, pan/zoom, hover and click details on the graph.
// Data arrives as JSON in the "gg-data" element (type application/json); every string from it is
// attacker-controlled and reaches the page only through textContent, never as markup.
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (ev) { root.setAttribute("data-errors", String(ev.message)); });
  var source = document.getElementById("gg-data");
  var data = source ? JSON.parse(source.textContent) : {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function pct(v) { return typeof v === "number" ? Math.round(v * 100) + "%" : "-"; }
  function fix(v) { return typeof v === "number" ? v.toFixed(2) : "-"; }
  function add(parent, child) { parent.appendChild(child); return child; }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      if (!th.classList.contains("sortable")) return;
      th.addEventListener("click", function () {
        var desc = th.getAttribute("data-dir") !== "desc";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", desc ? "desc" : "asc");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  var svg = document.getElementById("gg-graph");
  if (svg && data.nodes) graph(svg, data);
  root.setAttribute("data-ready", "1");

  function graph(svg, data) {
    var nodes = data.nodes, box = svg.parentNode, tip = box.querySelector(".tip");
    var panel = document.getElementById("gg-details");
    var shapes = [], adjacent = nodes.map(function () { return []; }), incident = nodes.map(function () { return []; });
    svg.querySelectorAll(".n").forEach(function (s) { shapes[+s.getAttribute("data-i")] = s; });
    svg.querySelectorAll(".e").forEach(function (e) {
      var s = +e.getAttribute("data-s"), t = +e.getAttribute("data-t");
      adjacent[s].push(t); adjacent[t].push(s); incident[s].push(e); incident[t].push(e);
    });
    var accounts = new Map(), entities = new Map();
    nodes.forEach(function (n, i) {
      if (n.type === "account") accounts.set(n.label, i); else entities.set(n.type + "\u0000" + n.label, i);
    });
    var rows = new Map();
    document.querySelectorAll("tr.pick").forEach(function (tr) {
      rows.set(+tr.getAttribute("data-m"), tr);
      tr.addEventListener("click", function () {
        var i = +tr.getAttribute("data-i");
        if (i >= 0) { select(i, false); box.scrollIntoView({ block: "nearest" }); }
        else { clear(); showAccount(+tr.getAttribute("data-m"), -1); }
      });
    });

    // Pan and zoom move the viewBox; screen <-> SVG coordinates go through the CTM.
    var vb = svg.viewBox.baseVal, home = [vb.x, vb.y, vb.width, vb.height];
    function point(ev) {
      var p = svg.createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
      return p.matrixTransform(svg.getScreenCTM().inverse());
    }
    function zoom(factor, at) {
      at = at || { x: vb.x + vb.width / 2, y: vb.y + vb.height / 2 };
      vb.x = at.x - (at.x - vb.x) * factor; vb.y = at.y - (at.y - vb.y) * factor;
      vb.width *= factor; vb.height *= factor;
    }
    svg.addEventListener("wheel", function (ev) { ev.preventDefault(); zoom(ev.deltaY < 0 ? 0.85 : 1 / 0.85, point(ev)); }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (ev) {
      drag = { x: ev.clientX, y: ev.clientY, vx: vb.x, vy: vb.y, scale: 1 / svg.getScreenCTM().a, moved: false, target: ev.target };
    });
    window.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; svg.classList.add("dragging"); }
      if (drag.moved) { vb.x = drag.vx - dx * drag.scale; vb.y = drag.vy - dy * drag.scale; }
    });
    window.addEventListener("pointerup", function () {
      if (drag && !drag.moved) {
        var t = drag.target;
        if (t.classList && t.classList.contains("n")) select(+t.getAttribute("data-i"), true); else clear();
      }
      drag = null; svg.classList.remove("dragging");
    });
    document.getElementById("gg-zoom-in").addEventListener("click", function () { zoom(0.8); });
    document.getElementById("gg-zoom-out").addEventListener("click", function () { zoom(1.25); });
    document.getElementById("gg-reset").addEventListener("click", function () {
      vb.x = home[0]; vb.y = home[1]; vb.width = home[2]; vb.height = home[3]; clear();
    });

    svg.addEventListener("pointerover", function (ev) {
      var t = ev.target;
      if (!t.classList || !t.classList.contains("n")) return;
      var n = nodes[+t.getAttribute("data-i")];
      tip.textContent = n.type === "account"
        ? n.label + "  ·  risk " + fix(n.risk) + "  ·  " + (n.predicted_label || "")
        : n.type + " " + n.label + "  ·  used by " + n.n_members + " members";
      tip.style.display = "block";
    });
    svg.addEventListener("pointermove", function (ev) {
      var r = box.getBoundingClientRect();
      tip.style.left = Math.min(ev.clientX - r.left + 14, r.width - 200) + "px";
      tip.style.top = (ev.clientY - r.top + 14) + "px";
    });
    svg.addEventListener("pointerout", function () { tip.style.display = "none"; });

    var search = document.getElementById("gg-search"), hits = document.getElementById("gg-hits");
    search.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter") return;
      var q = search.value.trim().toLowerCase(), found = [];
      nodes.forEach(function (n, i) { if (q && n.label.toLowerCase().indexOf(q) >= 0) found.push(i); });
      hits.textContent = q ? found.length + " found" : "";
      if (found.length) select(found[0], false);
    });

    // A link can open the case on one account: cluster-7.html#account=<url-encoded id>.
    var wanted = /^#account=(.*)$/.exec(window.location.hash);
    if (wanted) {
      var start;
      try { start = accounts.get(decodeURIComponent(wanted[1])); } catch (e) { start = undefined; }
      if (start !== undefined) select(start, false);
    }

    function clear() {
      panel.classList.remove("open");
      svg.classList.remove("focus");
      svg.querySelectorAll(".sel, .nb").forEach(function (x) { x.classList.remove("sel", "nb"); });
      rows.forEach(function (tr) { tr.classList.remove("on"); });
    }
    function select(i, fromGraph) {
      clear();
      svg.classList.add("focus");
      shapes[i].classList.add("sel");
      adjacent[i].forEach(function (j) { shapes[j].classList.add("nb"); });
      incident[i].forEach(function (e) { e.classList.add("nb"); });
      var n = nodes[i];
      if (n.type === "account") showAccount(n.m, i); else showEntity(i);
      if (n.type === "account" && rows.has(n.m)) {
        var tr = rows.get(n.m); tr.classList.add("on");
        if (fromGraph) tr.scrollIntoView({ block: "nearest" });
      }
    }
    function link(text, index) {
      if (index === undefined) return el("span", "mono", text);
      var a = el("a", "mono", text);
      a.addEventListener("click", function () { select(index, false); });
      return a;
    }
    function kv(parent, pairs) {
      var grid = add(parent, el("div", "kv"));
      pairs.forEach(function (p) { add(grid, el("span", "", p[0])); add(grid, el("span", "", p[1])); });
    }
    function open() {
      panel.textContent = "";
      panel.classList.add("open");
      var close = add(panel, el("button", "close", "\u00d7"));
      close.type = "button";
      close.title = "close";
      close.addEventListener("click", clear);
    }
    function showAccount(m, i) {
      var x = data.explain[m];
      open();
      add(panel, el("h3", "mono", x.account_id));
      var badges = add(panel, el("div"));
      add(badges, el("span", "badge" + (x.flagged ? " flag" : ""), "risk " + fix(x.risk)));
      badges.appendChild(document.createTextNode(" "));
      add(badges, el("span", "badge " + x.predicted_label, x.predicted_label));
      if (x.known_label) { badges.appendChild(document.createTextNode(" ")); add(badges, el("span", "badge", "known: " + x.known_label)); }
      if (i < 0) add(panel, el("p", "muted", "Not drawn in the graph (only the riskiest members are)."));
      add(panel, el("h4", "", "What drove its risk"));
      var why = add(panel, el("ul"));
      x.drivers.sentences.forEach(function (s) { add(why, el("li", "", s)); });
      add(panel, el("h4", "", "Its part in the coordination"));
      kv(panel, x.participation.map(function (p) { return [p.name, pct(p.value)]; }).concat([
        ["events", x.n_events], ["devices / IPs / targets", x.n_devices + " / " + x.n_ips + " / " + x.n_targets]]));
      add(panel, el("h4", "", "Strongest ties"));
      if (!x.ties.length) add(panel, el("p", "muted", "none"));
      var ties = add(panel, el("ul"));
      x.ties.forEach(function (t) {
        var li = add(ties, el("li"));
        add(li, link(t.other_id, accounts.get(t.other_id)));
        li.appendChild(document.createTextNode(" · " + fix(t.weight) + " via " + t.text + (t.internal ? "" : " (outside the cluster)")));
      });
      add(panel, el("h4", "", "Shared with other members"));
      if (!x.shared_entities.length) add(panel, el("p", "muted", "none"));
      var shared = add(panel, el("ul"));
      x.shared_entities.forEach(function (s) {
        var li = add(shared, el("li"));
        li.appendChild(document.createTextNode(s.kind + " "));
        add(li, link(s.entity, entities.get(s.kind + "\u0000" + s.entity)));
        li.appendChild(document.createTextNode(" · " + s.n_events + " events · +" + s.other_members + " members"));
      });
    }
    function showEntity(i) {
      var n = nodes[i];
      open();
      add(panel, el("h3", "mono", n.label));
      add(panel, el("span", "badge", n.type));
      add(panel, el("h4", "", "Use"));
      kv(panel, [["members", n.n_members], ["events", n.n_events], ["first seen", n.first_seen], ["last seen", n.last_seen]]);
      add(panel, el("h4", "", "Members drawn here"));
      var list = add(panel, el("ul"));
      adjacent[i].slice().sort(function (a, b) { return (nodes[b].risk || 0) - (nodes[a].risk || 0); })
        .forEach(function (j) {
          var li = add(list, el("li"));
          add(li, link(nodes[j].label, j));
          li.appendChild(document.createTextNode(" · risk " + fix(nodes[j].risk)));
        });
    }
  }
})();
