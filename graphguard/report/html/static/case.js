// graphguard pages: sortable tables; on case files, the graph (drawn by the vendored Cytoscape.js),
// hover and click details.
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

  var holder = document.getElementById("gg-graph");
  if (holder && data.nodes && window.cytoscape) graph(holder, data);
  root.setAttribute("data-ready", "1");

  // The graph is drawn by the vendored Cytoscape.js at the positions computed in Python (preset
  // layout: the same run gives the same picture). Element ids are node indices, never labels;
  // labels reach the canvas as text and the page only through textContent.
  function graph(holder, data) {
    var nodes = data.nodes, box = holder.parentNode, tip = box.querySelector(".tip");
    var panel = document.getElementById("gg-details");
    var adjacent = nodes.map(function () { return []; });
    var elements = nodes.map(function (n, i) {
      return {
        group: "nodes",
        data: { id: "n" + i, i: i, size: n.size, colour: n.colour || "", caption: n.caption || "" },
        position: { x: n.x, y: n.y },
        classes: n.type + (n.caption ? " labelled" : "")
      };
    });
    data.edges.forEach(function (e, k) {
      adjacent[e[0]].push(e[1]); adjacent[e[1]].push(e[0]);
      var hide = e[2] !== "uses" && !data.show_ties;
      elements.push({ group: "edges", data: { id: "e" + k, source: "n" + e[0], target: "n" + e[1], w: e[3] },
        classes: e[2] + (e[2] === "uses" ? "" : " tie-edge") + (hide ? " off" : "") });
    });
    var many = data.edges.length > 1500;
    var cy = window.cytoscape({
      container: holder,
      elements: elements,
      layout: { name: "preset", fit: true, padding: 12 },
      minZoom: 0.2, maxZoom: 12,
      boxSelectionEnabled: false, autoungrabify: true, autounselectify: true,
      hideEdgesOnViewport: many, textureOnViewport: many, pixelRatio: 1,
      style: [
        { selector: "node", style: { width: "data(size)", height: "data(size)", "border-width": 1, "border-color": "#fff" } },
        { selector: "node.account", style: { "background-color": "data(colour)", shape: "ellipse" } },
        { selector: "node.device", style: { "background-color": "#1565c0", shape: "round-rectangle" } },
        { selector: "node.ip", style: { "background-color": "#7b1fa2", shape: "diamond" } },
        { selector: "node.target", style: { "background-color": "#00897b", shape: "triangle", "background-opacity": 0.85 } },
        { selector: "node.labelled", style: { label: "data(caption)", "font-size": 11, color: "#334155", "text-valign": "top", "text-margin-y": -3,
          "text-background-color": "#fff", "text-background-opacity": 0.75, "text-background-padding": 1 } },
        { selector: "edge", style: { width: "data(w)", "curve-style": "haystack", "line-opacity": 0.5 } },
        { selector: "edge.uses", style: { "line-color": "#9aa7b6", "line-opacity": 0.35 } },
        { selector: "edge.device", style: { "line-color": "#1565c0" } },
        { selector: "edge.ip", style: { "line-color": "#7b1fa2" } },
        { selector: "edge.sync", style: { "line-color": "#ef6c00" } },
        { selector: "edge.dense", style: { "line-color": "#6d4c41" } },
        { selector: "edge.tie", style: { "line-color": "#64748b" } },
        { selector: ".faded", style: { opacity: 0.1 } },
        { selector: "edge.off", style: { display: "none" } },
        { selector: "edge.nb", style: { "line-opacity": 0.9, "z-index": 9 } },
        { selector: "node.sel", style: { "border-width": 2.5, "border-color": "#111", "z-index": 10 } }
      ]
    });
    holder.cy = cy;
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

    function zoom(factor) {
      cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    }
    document.getElementById("gg-zoom-in").addEventListener("click", function () { zoom(1.25); });
    document.getElementById("gg-zoom-out").addEventListener("click", function () { zoom(0.8); });
    document.getElementById("gg-reset").addEventListener("click", function () { cy.fit(undefined, 12); clear(); });
    var tiesButton = document.getElementById("gg-ties");
    function showTies(on) {
      cy.edges(".tie-edge").toggleClass("off", !on);
      tiesButton.setAttribute("aria-pressed", on ? "true" : "false");
    }
    showTies(!!data.show_ties);
    tiesButton.addEventListener("click", function () { showTies(tiesButton.getAttribute("aria-pressed") !== "true"); });
    cy.on("tap", "node", function (ev) { select(ev.target.data("i"), true); });
    cy.on("tap", function (ev) { if (ev.target === cy) clear(); });
    cy.on("mouseover", "node", function (ev) {
      var n = nodes[ev.target.data("i")];
      tip.textContent = n.type === "account"
        ? n.label + "  ·  risk " + fix(n.risk) + "  ·  " + (n.predicted_label || "")
        : n.type + " " + n.label + "  ·  used by " + n.n_members + " members";
      var p = ev.renderedPosition;
      tip.style.left = Math.min(p.x + 14, box.clientWidth - 200) + "px";
      tip.style.top = (p.y + 14) + "px";
      tip.style.display = "block";
    });
    cy.on("mouseout", "node", function () { tip.style.display = "none"; });

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
      cy.elements().removeClass("faded sel nb");
      rows.forEach(function (tr) { tr.classList.remove("on"); });
    }
    function select(i, fromGraph) {
      clear();
      var node = cy.getElementById("n" + i), near = node.closedNeighborhood();
      cy.elements().not(near).addClass("faded");
      node.addClass("sel");
      near.edges().addClass("nb");
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
