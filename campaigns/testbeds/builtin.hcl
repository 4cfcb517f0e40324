# Built-in testbed of `gridflow dev`.
#
# Four simulated sites shaped after Grid'5000 (Rennes, Lyon, Nancy, Grenoble):
# 12 clusters, 360 nodes, from 16-core Haswell nodes on 10G Ethernet to GPU
# servers with 8 V100 or A100. The hardware is plausible rather than an exact
# copy of the real reference API.
#
# The language, in short (the full reference is the doc of package dsl/testbed):
#
#   site "<uid>" {                   # uids: ^[a-z0-9][a-z0-9-]*$, at most 63 chars
#     name, description, location   # strings, optional
#     latitude, longitude           # degrees, optional
#     cluster "<uid>" {
#       description, model          # strings, optional
#       queues = [...]              # subset of "default", "besteffort", "admin"
#       driver "sim" { ... }        # or driver "agent" { agents = {...} }, driver "docker" {}
#       nodes {                     # count nodes named by a pattern
#         count = N                 # 1..100000
#         name  = "<cluster>-%d"    # exactly one %d, numbered from first (default 1)
#         properties { cores, cpu_model, memory, disk, network, gpu { count, model } }
#       }
#       node "<uid>" { properties { ... } }   # one explicitly named node
#     }
#   }
#
# Sizes: "128GiB", "600GB". Rates: "10Gbps", "1.25GB/s". Durations: "90s", "4m".
# Node uids are unique across the whole testbed.
#
# Timings: real nodes boot in 1 to 3 minutes and a kadeploy of a full image
# takes 4 to 10. The sim driver is for development and demos, where a campaign
# should finish while someone watches, so boot and deploy times here are in
# seconds, in roughly the same proportions as on real hardware (big GPU servers
# boot slowest). Copy rates follow the network of each cluster. Failure rates
# of 1 to 3% keep the retry and redeploy paths exercised; seeds are fixed so a
# run can be reproduced.

site "rennes" {
  name        = "Rennes"
  description = "Brittany site: general purpose Haswell clusters on 10G Ethernet"
  location    = "Rennes, France"
  latitude    = 48.1147
  longitude   = -1.6794

  cluster "paravance" {
    description = "2 x 8-core Haswell, 128 GiB, 10G Ethernet"
    model       = "Dell PowerEdge R630"

    driver "sim" {
      boot_time    = "3s"
      deploy_time  = "8s"
      copy_rate    = "10Gbps"
      failure_rate = 0.01
      seed         = 101
    }

    nodes {
      count = 72
      name  = "paravance-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2630 v3"
        memory    = "128GiB"
        disk      = "600GB"
        network   = "10Gbps"
      }
    }
  }

  cluster "parasilo" {
    description = "Storage-heavy Haswell nodes: 5 disks each"
    model       = "Dell PowerEdge R630"
    queues      = ["default", "admin"]

    driver "sim" {
      boot_time    = "3s"
      deploy_time  = "9s"
      copy_rate    = "10Gbps"
      failure_rate = 0.02
      seed         = 102
    }

    nodes {
      count = 28
      name  = "parasilo-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2630 v3"
        memory    = "128GiB"
        disk      = "3TB"
        network   = "10Gbps"
      }
    }
  }
}

site "lyon" {
  name        = "Lyon"
  description = "Lyon site: Broadwell nodes and the deep learning servers"
  location    = "Lyon, France"
  latitude    = 45.7640
  longitude   = 4.8357

  cluster "nova" {
    description = "2 x 8-core Broadwell, 64 GiB"
    model       = "Dell PowerEdge R430"

    driver "sim" {
      boot_time    = "3s"
      deploy_time  = "8s"
      copy_rate    = "10Gbps"
      failure_rate = 0.01
      seed         = 201
    }

    nodes {
      count = 23
      name  = "nova-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2620 v4"
        memory    = "64GiB"
        disk      = "600GB"
        network   = "10Gbps"
      }
    }
  }

  cluster "gemini" {
    description = "NVIDIA DGX-1: 8 x Tesla V100 with NVLink"
    model       = "NVIDIA DGX-1"
    queues      = ["default", "admin"]

    driver "sim" {
      boot_time    = "6s"
      deploy_time  = "15s"
      copy_rate    = "10Gbps"
      failure_rate = 0.03
      seed         = 202
    }

    nodes {
      count = 2
      name  = "gemini-%d"
      properties {
        cores     = 40
        cpu_model = "Intel Xeon E5-2698 v4"
        memory    = "512GiB"
        disk      = "7.68TB"
        network   = "10Gbps"
        gpu {
          count = 8
          model = "NVIDIA Tesla V100-SXM2-32GB"
        }
      }
    }
  }

  cluster "sirius" {
    description = "NVIDIA DGX A100: a single node, declared explicitly"
    model       = "NVIDIA DGX A100"
    queues      = ["default", "admin"]

    driver "sim" {
      boot_time    = "6s"
      deploy_time  = "15s"
      copy_rate    = "25Gbps"
      failure_rate = 0.02
      seed         = 203
    }

    node "sirius-1" {
      properties {
        cores     = 128
        cpu_model = "AMD EPYC 7742"
        memory    = "1TiB"
        disk      = "15TB"
        network   = "25Gbps"
        gpu {
          count = 8
          model = "NVIDIA A100-SXM4-40GB"
        }
      }
    }
  }
}

site "nancy" {
  name        = "Nancy"
  description = "Nancy site: the largest, with Skylake/Cascade Lake nodes and GPU clusters"
  location    = "Nancy, France"
  latitude    = 48.6921
  longitude   = 6.1844

  cluster "grisou" {
    description = "2 x 8-core Haswell, 128 GiB, 4 x 10G Ethernet"
    model       = "Dell PowerEdge R630"

    driver "sim" {
      boot_time    = "3s"
      deploy_time  = "8s"
      copy_rate    = "10Gbps"
      failure_rate = 0.02
      seed         = 301
    }

    nodes {
      count = 51
      name  = "grisou-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2630 v3"
        memory    = "128GiB"
        disk      = "600GB"
        network   = "10Gbps"
      }
    }
  }

  cluster "grele" {
    description = "2 x 12-core Haswell with 2 x GeForce GTX 1080 Ti"
    model       = "Dell PowerEdge R730"

    driver "sim" {
      boot_time    = "4s"
      deploy_time  = "10s"
      copy_rate    = "10Gbps"
      failure_rate = 0.02
      seed         = 302
    }

    nodes {
      count = 14
      name  = "grele-%d"
      properties {
        cores     = 24
        cpu_model = "Intel Xeon E5-2650 v4"
        memory    = "128GiB"
        disk      = "300GB"
        network   = "10Gbps"
        gpu {
          count = 2
          model = "NVIDIA GeForce GTX 1080 Ti"
        }
      }
    }
  }

  cluster "gros" {
    description = "1 x 18-core Cascade Lake, 96 GiB, SSD, 25G Ethernet"
    model       = "Dell PowerEdge R640"

    driver "sim" {
      boot_time    = "2s"
      deploy_time  = "6s"
      copy_rate    = "25Gbps"
      failure_rate = 0.01
      seed         = 303
    }

    nodes {
      count = 124
      name  = "gros-%d"
      properties {
        cores     = 18
        cpu_model = "Intel Xeon Gold 5220"
        memory    = "96GiB"
        disk      = "480GB"
        network   = "25Gbps"
      }
    }
  }

  cluster "grue" {
    description = "AMD EPYC with 4 x Tesla T4 for inference"
    model       = "Dell PowerEdge R7425"
    queues      = ["default", "besteffort"]

    driver "sim" {
      boot_time    = "4s"
      deploy_time  = "10s"
      copy_rate    = "10Gbps"
      failure_rate = 0.02
      seed         = 304
    }

    nodes {
      count = 5
      name  = "grue-%d"
      properties {
        cores     = 32
        cpu_model = "AMD EPYC 7351"
        memory    = "128GiB"
        disk      = "480GB"
        network   = "10Gbps"
        gpu {
          count = 4
          model = "NVIDIA Tesla T4"
        }
      }
    }
  }
}

site "grenoble" {
  name        = "Grenoble"
  description = "Grenoble site: Skylake nodes, fat memory nodes and persistent memory"
  location    = "Grenoble, France"
  latitude    = 45.1885
  longitude   = 5.7245

  cluster "dahu" {
    description = "2 x 16-core Skylake, 192 GiB, SSD + HDD, Omni-Path"
    model       = "Dell PowerEdge C6420"

    driver "sim" {
      boot_time    = "3s"
      deploy_time  = "8s"
      copy_rate    = "10Gbps"
      failure_rate = 0.01
      seed         = 401
    }

    nodes {
      count = 32
      name  = "dahu-%d"
      properties {
        cores     = 32
        cpu_model = "Intel Xeon Gold 6130"
        memory    = "192GiB"
        disk      = "4TB"
        network   = "10Gbps"
      }
    }
  }

  cluster "yeti" {
    description = "4 x 16-core Skylake, 768 GiB: the fat memory nodes"
    model       = "Dell PowerEdge R940"
    queues      = ["default", "admin"]

    driver "sim" {
      boot_time    = "5s"
      deploy_time  = "12s"
      copy_rate    = "10Gbps"
      failure_rate = 0.03
      seed         = 402
    }

    nodes {
      count = 4
      name  = "yeti-%d"
      properties {
        cores     = 64
        cpu_model = "Intel Xeon Gold 6130"
        memory    = "768GiB"
        disk      = "6TB"
        network   = "10Gbps"
      }
    }
  }

  cluster "troll" {
    description = "2 x 16-core Cascade Lake with Intel Optane persistent memory"
    model       = "Dell PowerEdge R640"

    driver "sim" {
      boot_time    = "4s"
      deploy_time  = "10s"
      copy_rate    = "25Gbps"
      failure_rate = 0.02
      seed         = 403
    }

    nodes {
      count = 4
      name  = "troll-%d"
      properties {
        cores     = 32
        cpu_model = "Intel Xeon Gold 5218"
        memory    = "384GiB"
        disk      = "1.6TB"
        network   = "25Gbps"
      }
    }
  }
}
