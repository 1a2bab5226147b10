using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using Portal.Web.Features.Webhooks;

namespace Portal.Web.Features.Admin;

/// <summary>The admin console: users and roles, API keys, the probe allow-list and retention, webhooks and their deliveries, the deployment.</summary>
public partial class AdminPage
{
    private IReadOnlyList<UserSummary> _users = [];
    private IReadOnlyList<ApiKeySummary> _keys = [];
    private IReadOnlyList<WebhookSummary> _webhooks = [];
    private IReadOnlyList<DeliverySummary> _deliveries = [];
    private IReadOnlyList<string> _configured = [];
    private string? _notice;
    private bool _noticeIsError;
    private (string Heading, string Value, bool Hashed)? _secret;
    private string? _inviteEmail;
    private string _inviteRole = Accounts.Roles.Engineer;
    private string? _keyName;
    private string? _keyUser;
    private string? _allowList;
    private int? _retentionDays;
    private string? _webhookUrl;
    private string _me = "";
    private DeploymentView? _deployment;
    private bool _checking;

    [Inject]
    private AdminService Admin { get; set; } = default!;

    [Inject]
    private PortalSettings Settings { get; set; } = default!;

    [Inject]
    private SettingsWorker Retention { get; set; } = default!;

    [Inject]
    private WebhookService Webhooks { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private DeploymentCheck Deployment { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    private bool _secretCopied;

    /// <summary>Who is logged in.</summary>
    [CascadingParameter]
    private Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState>? AuthenticationState { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        if (AuthenticationState is not null)
        {
            _me = (await AuthenticationState).User.FindFirstValue(ClaimTypes.NameIdentifier) ?? "";
        }

        _keyUser = _me;
        _configured = Settings.ConfiguredAllowList;
        _allowList = string.Join('\n', await Settings.GetAllowListAsync(CancellationToken.None));
        _retentionDays = await Settings.GetRetentionDaysAsync(CancellationToken.None);
        await ReloadAsync();
    }

    private async Task ReloadAsync()
    {
        _users = await Admin.ListUsersAsync(CancellationToken.None);
        _keys = await Admin.ListKeysAsync(CancellationToken.None);
        _webhooks = await Webhooks.ListAsync(CancellationToken.None);
        _deliveries = await Webhooks.DeliveriesAsync(50, CancellationToken.None);
        _deployment = await Deployment.ViewAsync(CancellationToken.None);
    }

    private async Task CheckDeploymentAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        _checking = true;
        if (await Deployment.StartAsync(Navigation.BaseUri, _me, CancellationToken.None) is { } started)
        {
            Navigation.NavigateTo($"/sessions/{started.SessionId}");
            return;
        }

        _checking = false;
        Say("Portal__PublicOrigin is not an origin (http(s)://host[:port]): the deployment check has nowhere to probe.", "");
    }

    /// <summary>
    /// Every admin change asks the database first: a demoted or disabled admin whose page is still open changes nothing,
    /// and the page reloads, so the server judges the cookie afresh.
    /// </summary>
    private async Task<bool> StillAdminAsync()
    {
        if (await Admin.IsAdminNowAsync(_me, CancellationToken.None))
        {
            return true;
        }

        Say("You are no longer an admin of this portal: nothing was changed.", "");
        Navigation.NavigateTo("/admin", forceLoad: true);
        return false;
    }

    private void Say(string? error, string success)
    {
        _noticeIsError = error is not null;
        _notice = error ?? success;
    }

    private async Task InviteAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        var (user, error) = await Admin.InviteAsync(_inviteEmail, _inviteRole, CancellationToken.None);
        Say(error, $"Invited {user?.Email}. Send them the link below; it lets them choose a password.");
        _secretCopied = false;
        _secret = user is null ? null : ("Invitation link", Navigation.ToAbsoluteUri(user.InvitePath).ToString(), true);
        _inviteEmail = null;
        await ReloadAsync();
    }

    private async Task SetRoleAsync(UserSummary user, string role)
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        Say(await Admin.SetRoleAsync(user.Id, role, _me, CancellationToken.None), $"{user.Email} is now {role}.");
        await ReloadAsync();
    }

    private async Task SetDisabledAsync(UserSummary user, bool disabled)
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        Say(await Admin.SetDisabledAsync(user.Id, disabled, _me, CancellationToken.None), $"{user.Email} is {(disabled ? "disabled" : "enabled")}.");
        await ReloadAsync();
    }

    private async Task CreateKeyAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        var (key, error) = await Admin.CreateKeyAsync(_keyName, _keyUser ?? _me, CancellationToken.None);
        Say(error, $"Created the key {key?.Name}.");
        _secretCopied = false;
        _secret = key is null ? null : ("API key", key.Key, true);
        _keyName = null;
        await ReloadAsync();
    }

    private async Task RevokeKeyAsync(ApiKeySummary key)
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        await Admin.RevokeKeyAsync(key.Id, CancellationToken.None);
        Say(null, $"Revoked the key {key.Name}.");
        await ReloadAsync();
    }

    private async Task SaveAllowListAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        var problems = await Settings.SetAllowListAsync((_allowList ?? "").Split('\n'), _me, CancellationToken.None);
        Say(problems.Count > 0 ? string.Join(" ", problems) : null, "Allow-list saved; probes use it from now on.");
    }

    private async Task SaveRetentionAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        Say(await Settings.SetRetentionDaysAsync(_retentionDays, _me, CancellationToken.None), _retentionDays is null ? "Sessions are kept forever." : $"Sessions older than {_retentionDays} days will be deleted.");
    }

    private async Task SweepAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        var deleted = await Retention.SweepAsync(CancellationToken.None);
        Say(null, $"Deleted {deleted} session(s).");
    }

    private async Task AddWebhookAsync()
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        var (webhook, error) = await Webhooks.CreateAsync(_webhookUrl, CancellationToken.None);
        Say(error, $"Added the webhook {webhook?.Url}.");
        _secretCopied = false;
        _secret = webhook is null ? null : ("Webhook signing secret", webhook.Secret, false);
        _webhookUrl = webhook is null ? _webhookUrl : null;
        await ReloadAsync();
    }

    private async Task DisableWebhookAsync(WebhookSummary webhook)
    {
        if (!await StillAdminAsync())
        {
            return;
        }

        await Webhooks.DisableAsync(webhook.Id, CancellationToken.None);
        Say(null, $"Disabled the webhook {webhook.Url}.");
        await ReloadAsync();
    }

    private async Task CopySecretAsync() => _secretCopied = _secret is { } secret && await JS.InvokeAsync<bool>("portalConsole.copy", secret.Value);

    private static string Format(DateTimeOffset time) => time.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
}
