site "rennes" {
  cluster "a" {
    queues = ["default", "production", "default"]
    driver "sim" {}
    node "a-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
  cluster "b" {
    queues = []
    driver "sim" {}
    node "b-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
  cluster "c" {
    queues = "default"
    driver "sim" {}
    node "c-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
