# vars: nodes=abc
# vars: sites=[rennes
# env: GRIDFLOW_VAR_enabled=maybe
variable "nodes" {
  type = number
}

variable "sites" {
  type = list(string)
}

variable "enabled" {
  type    = bool
  default = true
}
