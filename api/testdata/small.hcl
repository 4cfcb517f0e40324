site "rennes" {
  name     = "Rennes"
  location = "Rennes, France"
  latitude  = 48.1
  longitude = -1.67

  cluster "paravance" {
    model = "Dell PowerEdge R630"
    driver "sim" {
      boot_time    = "1s"
      deploy_time  = "2s"
      copy_rate    = "10Gbps"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = 60
      name  = "paravance-%d"
      properties {
        cores   = 16
        memory  = "128GiB"
        disk    = "600GB"
        network = "10Gbps"
      }
    }
  }
}

site "lyon" {
  name = "Lyon"

  cluster "sirius" {
    driver "sim" {}
    nodes {
      count = 2
      name  = "sirius-%d"
      properties {
        cores   = 64
        memory  = "1TiB"
        disk    = "2TB"
        network = "25Gbps"
        gpu {
          count = 8
          model = "NVIDIA A100"
        }
      }
    }
  }
}
