locals {
  scratch = size("12XB")
}
