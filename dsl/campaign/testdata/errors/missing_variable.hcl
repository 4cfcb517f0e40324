# vars: undeclared=1
# vars: nodse=3
variable "site" {
  type        = string
  description = "Where to run."
}

variable "nodes" {
  type    = number
  default = 2
}
