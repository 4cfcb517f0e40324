site "rennes" {
  cluster "c" {
    driver "sim" {}
    nodes {
      count = 0
      name  = "zero-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = -3
      name  = "negative-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 1.5
      name  = "fraction-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 100001
      name  = "huge-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = "many"
      name  = "text-%d"
      first = -1
      properties {
        cores  = 0
        memory = "1GiB"
        gpu {
          count = 65
        }
      }
    }
  }
}
