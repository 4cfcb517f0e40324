site "rennes" {
  cluster "paravance" {
    driver "sim" {}
    node "paravance-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
  cluster "paravance" {
    driver "sim" {}
    node "paravance-2" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}

site "rennes" {
  cluster "other" {
    driver "sim" {}
    node "other-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
