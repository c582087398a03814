from credit_coop.resident import main

main()
