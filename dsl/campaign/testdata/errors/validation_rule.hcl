# vars: nodes=12
variable "nodes" {
  type = number

  validation {
    condition     = var.nodes <= 10
    error_message = "At most 10 nodes, please: the cluster is shared."
  }
}

reservation "exp" {
  site  = "rennes"
  nodes = var.nodes
}
