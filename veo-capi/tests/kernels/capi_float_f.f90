! A Fortran function returning real(8), called by its symbol name.
real(8) function fdot(a, b, n)
  implicit none
  integer(8), value :: n
  real(8), intent(in) :: a(n), b(n)
  fdot = sum(a * b)
end function fdot
