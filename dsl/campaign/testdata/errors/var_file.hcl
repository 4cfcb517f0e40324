# varfile: var_file.vars
variable "sites" {
  type    = list(string)
  default = ["rennes"]
}

variable "nodes" {
  type    = number
  default = 2
}
