# hello: reserve two nodes, ask each one its name, report the names.
#
#   gridflow campaign validate campaigns/examples/hello.hcl
#   gridflow campaign run campaigns/examples/hello.hcl
#   gridflow campaign run campaigns/examples/hello.hcl -var site=lyon -var nodes=4

variable "site" {
  type        = string
  default     = "rennes"
  description = "Testbed site to reserve on."
}

variable "nodes" {
  type        = number
  default     = 2
  description = "How many nodes say hello."

  validation {
    condition     = var.nodes >= 1 && var.nodes <= 10
    error_message = "Say hello from 1 to 10 nodes."
  }
}

reservation "hello" {
  site     = var.site
  nodes    = var.nodes
  walltime = "15m"
}

run "hostname" {
  nodes   = reservation.hello.nodes
  command = "hostname"
}

output "nodes" {
  description = "The nodes the reservation got."
  value       = reservation.hello.nodes
}

output "hostnames" {
  description = "What each node answered, by node."
  value       = { for node, r in run.hostname.results : node => trimspace(r.stdout) }
}
