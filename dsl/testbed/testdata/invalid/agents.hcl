# Agent maps that are wrong on their own (phase 2).
site "lab" {
  cluster "a" {
    driver "agent" {
      agents = {
        "a-1" = "127.0.0.2:7070"
        "a-1" = "127.0.0.3:7070"
        "a-2" = "127.0.0.6"
        "a-3" = "127.0.0.7:99999"
        "a-4" = ":7070"
        "a-5" = 7070
      }
    }
    nodes {
      count = 5
      name  = "a-%d"
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
  cluster "b" {
    driver "agent" {
      agents = ["127.0.0.8:7070"]
    }
    node "b-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
  cluster "c" {
    driver "agent" {
      agents = {}
    }
    node "c-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
}
