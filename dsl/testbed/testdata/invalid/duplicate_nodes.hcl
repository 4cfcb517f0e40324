site "rennes" {
  cluster "paravance" {
    driver "sim" {}
    nodes {
      count = 10
      name  = "node-%d"
      properties {
        cores  = 16
        memory = "128GiB"
      }
    }
    node "node-3" {
      properties {
        cores  = 16
        memory = "128GiB"
      }
    }
  }
}

site "lyon" {
  cluster "nova" {
    driver "sim" {}
    nodes {
      count = 10
      first = 6
      name  = "node-%d"
      properties {
        cores  = 16
        memory = "64GiB"
      }
    }
  }
}
