reservaton "exp" {
  site  = "rennes"
  nodes = 2
}

job "bench" {
}
