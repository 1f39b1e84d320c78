from graphguard.launch import main

main()
