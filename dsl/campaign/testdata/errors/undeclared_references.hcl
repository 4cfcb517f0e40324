variable "nodes" {
  default = 2
}

locals {
  workers = 3
}

reservation "exp" {
  site     = "rennes"
  nodes    = var.nodse
  walltime = local.wokers
}

run "hello" {
  nodes   = reservation.exq.nodes
  command = "hostname"
}

run "bye" {
  nodes   = run.exp.nodes
  command = reservations.exp.id
}

output "x" {
  value = reservation.exp.node
}
