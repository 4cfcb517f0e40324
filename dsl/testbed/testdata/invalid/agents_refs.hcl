# Agent maps that disagree with the nodes (phase 3): an unknown node, a node
# of another cluster, and nodes left without an agent.
site "lab" {
  cluster "a" {
    driver "agent" {
      agents = {
        "a-1" = "127.0.0.2:7070"
        "a-9" = "127.0.0.4:7070"
        "b-1" = "127.0.0.5:7070"
      }
    }
    nodes {
      count = 8
      name  = "a-%d"
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
  cluster "b" {
    driver "agent" {
      agents = {
        "b-1" = "127.0.0.8:7070"
      }
    }
    node "b-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
}
