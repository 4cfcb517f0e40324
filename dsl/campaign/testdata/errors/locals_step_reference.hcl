reservation "exp" {
  site  = "rennes"
  nodes = 2
}

locals {
  first = reservation.exp.nodes[0]
}
