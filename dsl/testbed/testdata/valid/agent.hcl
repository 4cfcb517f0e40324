# Real machines running gridflow agents on loopback addresses.
site "local" {
  cluster "lab" {
    driver "agent" {
      agents = {
        "lab-1"  = "127.0.0.2:7070"
        "lab-2"  = "127.0.0.3:7070"
        "gpubox" = "[::1]:7071"
      }
    }
    nodes {
      count = 2
      name  = "lab-%d"
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
    node "gpubox" {
      properties {
        cores  = 8
        memory = "32GiB"
        gpu {
          count = 1
          model = "NVIDIA RTX 4090"
        }
      }
    }
  }
}
