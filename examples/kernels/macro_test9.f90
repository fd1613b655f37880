! The fortran_arrays example: py-veo's test9. `a` intent(in) (on the VE
! stack), `b` in VE memory (b(i) = a(i) + 2), `c` intent(out), the n x m
! column-major matrix c(i,j) = a(i) * j; `n` and `m` by reference. Returns
! the sum of `a`. Compiled by gfortran (or nfort) as `macro_test9_`.
integer function macro_test9(a, b, c, n, m)
    implicit none
    integer, intent(in) :: n, m
    integer, dimension(n), intent(in) :: a
    integer, dimension(n), intent(out) :: b
    double precision, intent(out) :: c(n, m)
    integer :: i, j
    macro_test9 = 0
    do i = 1, n
        macro_test9 = macro_test9 + a(i)
        b(i) = a(i) + 2
        do j = 1, m
            c(i, j) = dble(a(i)) * dble(j)
        end do
    end do
end function macro_test9
