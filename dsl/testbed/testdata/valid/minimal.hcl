# The smallest useful testbed: every optional argument takes its default.
site "lab" {
  cluster "box" {
    driver "sim" {}
    nodes {
      count = 2
      name  = "box-%d"
      properties {
        cores  = 4
        memory = "8GiB"
      }
    }
  }
}
