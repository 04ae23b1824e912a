namespace OrleansLm.Cli;

/// <summary>Process exit codes, so scripts can tell failures apart.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int BadInput = 2;
    public const int Unavailable = 3;
    public const int NotServing = 4;
    public const int Diverged = 5;
}
