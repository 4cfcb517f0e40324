# Alternative spellings of sizes, rates and durations, and numbers where
# strings are expected.
site "units" {
  cluster "mixed" {
    driver "sim" {
      boot_time    = 90
      deploy_time  = "01:30:00"
      copy_rate    = "1.25GB/s"
      failure_rate = 0
    }
    nodes {
      count = "3"
      name  = "mixed-%d"
      properties {
        cores   = 1
        memory  = 1073741824
        disk    = "1.5TB"
        network = "100Mbps"
      }
    }
  }
}
