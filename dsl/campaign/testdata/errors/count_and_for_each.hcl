reservation "exp" {
  count    = 2
  for_each = toset(["rennes", "lyon"])
  site     = each.key
  nodes    = 1
}
