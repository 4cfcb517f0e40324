# Valid, with warnings: a GPU model without GPUs, and two nodes behind one
# agent address.
site "lab" {
  cluster "a" {
    driver "agent" {
      agents = {
        "a-1" = "127.0.0.2:7070"
        "a-2" = "127.0.0.2:7070"
      }
    }
    nodes {
      count = 2
      name  = "a-%d"
      properties {
        cores  = 2
        memory = "2GiB"
        gpu {
          count = 0
          model = "NVIDIA T4"
        }
      }
    }
  }
}
