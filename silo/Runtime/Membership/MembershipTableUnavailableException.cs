namespace OrleansLm.Runtime.Membership;

/// <summary>The membership table's store cannot be reached; the message names where it was looked for (never a password).</summary>
public sealed class MembershipTableUnavailableException(string message, Exception inner) : Exception(message, inner);
