# A tiny testbed for the reservation tests: instant boots, no failures.
site "s" {
  name = "Test site"
  cluster "a" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      copy_rate    = "10Gbps"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = 4
      name  = "a-%d"
      properties {
        cores   = 8
        memory  = "32GiB"
        disk    = "100GB"
        network = "10Gbps"
      }
    }
  }
  cluster "b" {
    driver "sim" {}
    nodes {
      count = 2
      name  = "b-%d"
      properties {
        cores   = 32
        memory  = "256GiB"
        disk    = "1TB"
        network = "25Gbps"
        gpu {
          count = 2
          model = "NVIDIA V100"
        }
      }
    }
  }
}
