# inventory: fake
reservation "paris" {
  site  = "paris"
  nodes = 2
}

reservation "typo" {
  site    = "rennes"
  cluster = "paravanse"
  nodes   = 2
}

reservation "gpus" {
  site       = "nancy"
  cluster    = "grue"
  nodes      = 10
  properties = { gpu_count = 4 }
}

reservation "groups" {
  site  = "lyon"
  nodes = { nova = 2, sirius = 3, nebula = 1 }
}

reservation "eight_gpus" {
  site       = "nancy"
  nodes      = 1
  properties = { gpu_count = 8 }
}

reservation "sites" {
  for_each = toset(["rennes", "tokyo"])
  site     = each.key
  nodes    = 1
}
