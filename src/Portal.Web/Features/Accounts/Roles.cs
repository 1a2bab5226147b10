namespace Portal.Web.Features.Accounts;

/// <summary>The roles of the console.</summary>
public static class Roles
{
    public const string Admin = "Admin";
    public const string Engineer = "Engineer";

    /// <summary>Every role, created at start-up.</summary>
    public static IReadOnlyList<string> All { get; } = [Admin, Engineer];
}

/// <summary>The authorization policies of the portal.</summary>
public static class Policies
{
    /// <summary>A logged-in engineer or admin in the console.</summary>
    public const string Engineer = "engineer";

    /// <summary>An admin in the console.</summary>
    public const string Admin = "admin";

    /// <summary>A script holding an admin's API key.</summary>
    public const string ApiAdmin = "api-admin";

    /// <summary>A helpdesk system or script holding an API key.</summary>
    public const string ApiClient = "api-client";

    /// <summary>A customer holding a session's link.</summary>
    public const string Customer = "customer";
}
