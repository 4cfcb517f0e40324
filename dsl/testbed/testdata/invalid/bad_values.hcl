site "rennes" {
  name      = ""
  latitude  = 95
  longitude = -200
  cluster "c" {
    model = ["Dell"]
    driver "sim" {
      boot_time    = "soon"
      deploy_time  = "48h"
      copy_rate    = "0Gbps"
      failure_rate = 1.5
      seed         = 1.5
    }
    nodes {
      count = 1
      name  = "c-%d"
      properties {
        cores   = 4
        memory  = "lots"
        disk    = "-1GB"
        network = "fast"
      }
    }
    node "c-x" {
      properties {
        cores     = 4
        memory    = "0"
        network   = "0bps"
        cpu_model = null
      }
    }
  }
  cluster "d" {
    driver "sim" {
      failure_rate = -0.1
    }
    node "d-1" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
