site "rennes" {
  cluster "nodriver" {
    node "nodriver-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
  cluster "incomplete" {
    driver "sim" {}
    nodes {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 2
      name  = "incomplete-%d"
      properties {
        cpu_model = "Intel Xeon"
      }
    }
    node "incomplete-x" {
    }
    nodes {
      count = 1
      name  = "incomplete-gpu-%d"
      properties {
        cores  = 1
        memory = "1GiB"
        gpu {
          model = "NVIDIA T4"
        }
      }
    }
  }
  cluster "agentless" {
    driver "agent" {}
    node "agentless-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
