from credit_coop.cli import main

main()
