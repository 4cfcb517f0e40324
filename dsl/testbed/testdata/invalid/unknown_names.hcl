site "rennes" {
  clustr "paravance" {
  }
  cluster "parasilo" {
    driver "sim" {
      boot = "3s"
    }
    nodes {
      count = 2
      name  = "parasilo-%d"
      properties {
        cores  = 16
        memory = "128GiB"
        cpus   = 2
      }
    }
  }
}
