reservation "exp" {
  site  = "rennes"
  nodes = 2 +
}
