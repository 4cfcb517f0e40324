# Each block is within MaxNodesPerBlock, but together they exceed MaxNodes:
# the parser must refuse before allocating a node.
site "big" {
  cluster "a" {
    driver "sim" {}
    nodes {
      count = 100000
      name  = "a-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 100000
      name  = "b-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
    nodes {
      count = 100000
      name  = "c-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
