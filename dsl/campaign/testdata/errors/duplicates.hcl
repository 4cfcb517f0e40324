variable "site" {
  default = "rennes"
}

variable "site" {
  default = "lyon"
}

reservation "exp" {
  site  = var.site
  nodes = 2
}

reservation "exp" {
  site  = "lyon"
  nodes = 1
}

run "exp" {
  nodes   = reservation.exp.nodes
  command = "hostname"
}

locals {
  a = 1
}

locals {
  a = 2
}
