# order: reservation.site, run.per_node, run.rep, run.per_site
# levels: 0, 1, 1, 2
variable "sites" {
  type    = map(number)
  default = { rennes = 1, lyon = 2 }
}

variable "reps" {
  type    = number
  default = 3
}

reservation "site" {
  for_each = var.sites
  site     = each.key
  nodes    = each.value
}

run "per_node" {
  for_each = toset(flatten([for r in reservation.site : r.nodes]))
  nodes    = [each.key]
  command  = "hostname"
}

run "rep" {
  count   = var.reps
  nodes   = reservation.site["lyon"].nodes
  command = "echo ${count.index}"
}

run "per_site" {
  for_each = reservation.site
  nodes    = each.value.nodes
  command  = "echo ${each.key} ${length(run.rep)} ${run.rep[2].exit_code}"
}

output "codes" {
  value = run.rep[*].exit_code
}

output "per_site" {
  value = { for k, r in run.per_site : k => r.exit_code }
}
