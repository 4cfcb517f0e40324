site "rennes" {
  cluster "paravance" {
    driver "sim" {
      boot_time = "3s
    }
  }
