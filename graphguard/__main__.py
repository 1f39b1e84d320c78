from graphguard.cli import main

main()
