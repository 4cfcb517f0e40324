reservation "many" {
  count = 20000
  site  = "rennes"
  nodes = 1
}

reservation "negative" {
  count = -1
  site  = "rennes"
  nodes = 1
}

reservation "list" {
  for_each = ["rennes", "lyon"]
  site     = each.key
  nodes    = 1
}

reservation "fraction" {
  count = 1.5
  site  = "rennes"
  nodes = 1
}
