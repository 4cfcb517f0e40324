# A testbed for the deployment tests: cluster "a" deploys at once and never
# fails, every deployment on "f" fails mid-deploy (failure_rate 1), and "slow"
# takes a minute to write an image, long enough to find it deploying.
site "s" {
  name = "Deployment test site"
  cluster "a" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
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
  cluster "f" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      failure_rate = 1.0
      seed         = 1
    }
    nodes {
      count = 2
      name  = "f-%d"
      properties {
        cores   = 8
        memory  = "32GiB"
        disk    = "100GB"
        network = "10Gbps"
      }
    }
  }
  cluster "slow" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "60s"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = 2
      name  = "slow-%d"
      properties {
        cores   = 8
        memory  = "32GiB"
        disk    = "100GB"
        network = "10Gbps"
      }
    }
  }
}
