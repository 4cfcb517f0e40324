# multi-site: the same reservation on several sites with for_each, then the
# round-trip time from each site to every other one.
#
#   gridflow campaign run campaigns/examples/multi-site.hcl
#   gridflow campaign run campaigns/examples/multi-site.hcl -var 'sites={ rennes = 1, nancy = 1 }'

variable "sites" {
  type        = map(number)
  default     = { rennes = 2, lyon = 2, nancy = 2 }
  description = "Nodes to reserve, by site."

  validation {
    condition     = length(var.sites) >= 2
    error_message = "Measuring latency between sites needs at least two sites."
  }
}

locals {
  sites = sort(keys(var.sites))
}

reservation "site" {
  for_each = var.sites
  site     = each.key
  nodes    = each.value
  walltime = "30m"
}

# One run per site, known before the campaign starts: each pings the first
# node of every other site from its own first node.
run "latency" {
  for_each = var.sites
  nodes    = nodes_take(reservation.site[each.key].nodes, 1)
  command = join("; ", [
    for other in local.sites :
    "echo ${other} $(ping -c 3 -q ${reservation.site[other].nodes[0]} | tail -n 1)"
    if other != each.key
  ])
  on_failure = "continue"
}

# One run per node of every site, known only once the reservations are up.
run "uname" {
  for_each = toset(flatten([for r in reservation.site : r.nodes]))
  nodes    = [each.key]
  command  = "uname -r"
}

output "nodes_by_site" {
  value = { for site, r in reservation.site : site => r.nodes }
}

output "latency" {
  value = { for site, r in run.latency : site => trimspace(r.stdout) }
}

output "kernels" {
  value = distinct([for r in run.uname : trimspace(r.stdout)])
}
