site "rennes" {
  cluster "c" {
    driver "sim" {}
    nodes {
      count = 1
      name  = "plain"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 1
      name  = "c-%d-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 1
      name  = "c-%s-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 1
      name  = "Node_%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 1
      name  = "a-very-long-node-name-that-does-not-fit-in-one-label-of-a-host-name-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
