# Every argument of the language, with nodes blocks and node blocks
# interleaved to check declaration order.
site "rennes" {
  name        = "Rennes"
  description = "Brittany"
  location    = "Rennes, France"
  latitude    = 48.1147
  longitude   = -1.6794

  cluster "paravance" {
    description = "Haswell nodes"
    model       = "Dell PowerEdge R630"
    queues      = ["besteffort", "default"]

    driver "sim" {
      boot_time    = "90s"
      deploy_time  = "4m"
      copy_rate    = "10Gbps"
      failure_rate = 0.01
      seed         = 7
    }

    node "paravance-special" {
      properties {
        cores     = 32
        cpu_model = "AMD EPYC 7452"
        memory    = "256GiB"
        disk      = "1TB"
        network   = "25Gbps"
        gpu {
          count = 2
          model = "NVIDIA A40"
        }
      }
    }

    nodes {
      count = 3
      first = 0
      name  = "paravance-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2630 v3"
        memory    = "128GiB"
        disk      = "600GB"
        network   = "10Gbps"
        gpu {
          count = 0
        }
      }
    }

    node "paravance-last" {
      properties {
        cores  = 8
        memory = "16GiB"
      }
    }
  }

  cluster "parasilo" {
    queues = ["admin"]
    driver "docker" {}
    nodes {
      count = 2
      first = 10
      name  = "parasilo-%d-x"
      properties {
        cores  = 16
        memory = "128GiB"
      }
    }
  }
}

site "lyon" {
  name      = "Lyon"
  latitude  = 45.764
  longitude = 4.8357

  cluster "nova" {
    driver "sim" {
      seed = -3
    }
    nodes {
      count = 1
      name  = "nova-%d"
      properties {
        cores  = 16
        memory = "64GiB"
      }
    }
  }
}
