package Velro::Fixture;

# The test fixture's fixed UUIDs (t/sql/fixture.sql; change both together)
# and what the access rule says about them.
#
#   use Velro::Fixture;
#   $Velro::Fixture::ID{editor}          # '11111111-0000-4000-8000-000000000004'
#   Velro::Fixture::id('gen_team')       # same, dies on an unknown name
#   Velro::Fixture::name($uuid)          # the other way round ('editor')
#   Velro::Fixture::expect('editor', 'gen_team')
#                                        # { role => 'editor', direct => 0,
#                                        #   team => 1, public => 0 } or undef
#                                        # (undef: unknown generation)
#   Velro::Fixture::allowed('editor', 'gen_team', 'write')    # 1 or 0
#
# Users (all active, tokens_valid_after NULL, unless said otherwise)
#   owner      creator of every generation but gen_editor; also a *viewer*
#              of team "team" (the creator's "owner" role wins)
#   towner     team "team", team role owner (=> effective role admin)
#   tadmin     team "team", admin
#   editor     team "team", editor; creator of gen_editor
#   viewer     team "team", viewer; email has ' " and \ in it
#   outsider   owner of team "other" (which has no projects), nothing in "team"
#   disabled   status 'disabled'; team "team" editor
#   revoked    tokens_valid_after 2030-01-01: every token issued now is revoked;
#              team "team" editor
#   unrevoked  tokens_valid_after 2000-01-01: tokens issued now are fine;
#              team "team" editor
#   nobody     no such user
# Teams
#   team, team_other
# Projects (all of team "team" but proj_noteam)
#   proj_team (team), proj_public (public), proj_team_open (team_open),
#   proj_private (private), proj_noteam (public, no team)
# Generations (creator owner unless said otherwise)
#   gen_team            proj_team, completed
#   gen_team_pending    proj_team, pending   (only owner has access)
#   gen_team_failed     proj_team, failed    (only owner has access)
#   gen_editor          proj_team, completed, creator editor
#   gen_public          proj_public, completed (anyone reads, viewer)
#   gen_public_pending  proj_public, pending (only owner)
#   gen_team_open       proj_team_open, completed (non-members read through
#                       has_public_access, with no role)
#   gen_private         proj_private, completed (members by team role,
#                       non-members nothing)
#   gen_noteam          proj_noteam, completed (public: anyone reads)
#   gen_noproject       no project, completed (only owner)
#   gen_unknown         no such generation

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(%ID id name expect allowed);

my $u = '11111111-0000-4000-8000-0000000000';
my $t = '22222222-0000-4000-8000-0000000000';
my $p = '33333333-0000-4000-8000-0000000000';
my $g = '44444444-0000-4000-8000-0000000000';

our %ID = (
    owner              => "${u}01",
    towner             => "${u}02",
    tadmin             => "${u}03",
    editor             => "${u}04",
    viewer             => "${u}05",
    outsider           => "${u}06",
    disabled           => "${u}07",
    revoked            => "${u}08",
    unrevoked          => "${u}09",
    nobody             => "${u}ff",

    team               => "${t}01",
    team_other         => "${t}02",

    proj_team          => "${p}01",
    proj_public        => "${p}02",
    proj_team_open     => "${p}03",
    proj_private       => "${p}04",
    proj_noteam        => "${p}05",

    gen_team           => "${g}01",
    gen_team_pending   => "${g}02",
    gen_team_failed    => "${g}03",
    gen_editor         => "${g}04",
    gen_public         => "${g}05",
    gen_public_pending => "${g}06",
    gen_team_open      => "${g}07",
    gen_private        => "${g}08",
    gen_noteam         => "${g}09",
    gen_noproject      => "${g}10",
    gen_unknown        => "${g}ff",
);

my %NAME = reverse %ID;

# tokens_valid_after as epoch seconds
our %TOKENS_VALID_AFTER = (
    revoked   => 1893456000,    # 2030-01-01T00:00:00Z
    unrevoked => 946684800,     # 2000-01-01T00:00:00Z
);

sub id {
    my ($name) = @_;
    my $id = $ID{$name};
    die "Velro::Fixture: no id named \"$name\"\n" unless defined $id;
    return $id;
}

sub name { $NAME{lc $_[0]} }

# The fixture in the access rule's terms.

my %team_role = (            # team "team"
    owner => 'viewer', towner => 'owner', tadmin => 'admin',
    editor => 'editor', viewer => 'viewer', disabled => 'editor',
    revoked => 'editor', unrevoked => 'editor',
);

my %gen = (                  # creator, project visibility, team?, completed?
    gen_team           => [qw(owner  team      1 1)],
    gen_team_pending   => [qw(owner  team      1 0)],
    gen_team_failed    => [qw(owner  team      1 0)],
    gen_editor         => [qw(editor team      1 1)],
    gen_public         => [qw(owner  public    1 1)],
    gen_public_pending => [qw(owner  public    1 0)],
    gen_team_open      => [qw(owner  team_open 1 1)],
    gen_private        => [qw(owner  private   1 1)],
    gen_noteam         => [qw(owner  public    0 1)],
    gen_noproject      => [qw(owner  -         0 1)],
);

# What velro_authorize answers for fixture names (user, generation):
# { role => ROLE|undef, direct => 0|1, team => 0|1, public => 0|1 },
# undef when the generation does not exist.
sub expect {
    my ($user, $gname) = @_;
    my $gd = $gen{$gname} or return undef;
    my ($creator, $vis, $in_team, $completed) = @$gd;
    my $is_owner = $user eq $creator;
    my $trole = $in_team ? $team_role{$user} : undef;
    my $role;
    if ($is_owner) {
        $role = 'owner';
    } elsif ($completed && defined $trole) {
        $role = $trole eq 'owner' ? 'admin' : $trole;
    } elsif ($completed && $vis eq 'public') {
        $role = 'viewer';
    }
    return {
        role   => $role,
        direct => $is_owner ? 1 : 0,
        team   => ($completed && defined $trole) ? 1 : 0,
        public => (($completed || $is_owner)
                   && ($vis eq 'public' || $vis eq 'team_open')) ? 1 : 0,
    };
}

# The module's decision from that row (user status and revocation aside).
sub allowed {
    my ($user, $gname, $action) = @_;
    my $e = expect($user, $gname) or return 0;
    my $r = $e->{role} // '';
    return ($r ne '' || $e->{public}) ? 1 : 0 if $action eq 'read';
    return ($r =~ /^(?:owner|admin|editor)$/) ? 1 : 0 if $action eq 'write';
    return ($r =~ /^(?:owner|admin)$/) ? 1 : 0 if $action eq 'delete';
    die "Velro::Fixture::allowed: unknown action \"$action\"\n";
}

our @USERS = qw(owner towner tadmin editor viewer outsider disabled revoked
                unrevoked nobody);
our @GENERATIONS = qw(gen_team gen_team_pending gen_team_failed gen_editor
                      gen_public gen_public_pending gen_team_open gen_private
                      gen_noteam gen_noproject gen_unknown);

1;
