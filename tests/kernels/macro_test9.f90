! py-veo's test9, for tests/tests/macros/fortran.rs: integer arrays in, a
! double precision matrix out. No BIND(C): the symbol is gfortran's
! `macro_test9_`, and every argument arrives by reference, which is what
! #[ve_kernel(fortran)] generates (scalars on the VE stack, intent IN).
!
!   a  intent(in), on the VE stack (&[i32])
!   b  in VE memory (VePtr<i32>): b(i) = a(i) + 2
!   c  intent(out), on the VE stack (#[out] &mut [f64]): c(i,j) = a(i) * j
!   n, m  scalars, passed by reference by the stub
! Returns the sum of a.
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

! Every Fortran scalar kind the stubs pass by reference, summed.
double precision function macro_fortran_scalars(i1, i2, i4, i8, r4, r8)
    implicit none
    integer(kind=1), intent(in) :: i1
    integer(kind=2), intent(in) :: i2
    integer(kind=4), intent(in) :: i4
    integer(kind=8), intent(in) :: i8
    real(kind=4), intent(in) :: r4
    real(kind=8), intent(in) :: r8
    macro_fortran_scalars = dble(i1) + dble(i2) * 10 + dble(i4) * 100 + dble(i8) * 1000 &
        + dble(r4) * 10000 + r8 * 100000
end function macro_fortran_scalars
