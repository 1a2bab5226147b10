namespace Portal.Core.Results;

/// <summary>Why the portal refused a message on a run's path: the <c>reason</c> of a <c>server.refusal</c> result.</summary>
public static class RefusalReasons
{
    /// <summary>The link's message budget was spent (HTTP 429, or a hub error).</summary>
    public const string LinkBudget = "link-budget";

    /// <summary>A message larger than the portal accepts (HTTP 413, or the hub's message limit, WebSocket close 1009).</summary>
    public const string TooLarge = "too-large";

    /// <summary>A message the portal could not accept as it was (HTTP 400, or a hub error).</summary>
    public const string Invalid = "invalid";

    /// <summary>The link expired or its session was closed while the page was open.</summary>
    public const string LinkExpired = "link-expired";

    /// <summary>The page used more of the test endpoints than its link may (bytes a minute, connections held at once): HTTP 429.</summary>
    public const string TestBudget = "test-budget";

    /// <summary>The metric holding the HTTP status or close code the page got.</summary>
    public const string StatusMetric = "status";
}
