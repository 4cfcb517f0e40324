site "Rennes" {
  cluster "para_vance" {
    driver "sim" {}
    node "-x" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
