from agentlytics.cli import main

main()
